"""A tiny eBPF assembler: just the instructions ``builder.netfilter`` needs, with
jumps to named labels resolved when the program is assembled."""

from __future__ import annotations

import struct

LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
MOV64_X = 0xBF  # BPF_ALU64 | BPF_MOV | BPF_X
MOV32_X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
MOV32_K = 0xB4  # BPF_ALU | BPF_MOV | BPF_K
AND32_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
JEQ32_K = 0x16  # BPF_JMP32 | BPF_JEQ | BPF_K
JNE32_K = 0x56  # BPF_JMP32 | BPF_JNE | BPF_K
EXIT = 0x95


class Asm:
    """Append instructions (each method returns ``self``), then ``code()``."""

    def __init__(self) -> None:
        self._insns: list[tuple[int, int, int, int | str, int]] = []
        self._labels: dict[str, int] = {}

    def _emit(self, code: int, dst: int = 0, src: int = 0, off: int | str = 0,
              imm: int = 0) -> Asm:
        self._insns.append((code, dst, src, off, imm))
        return self

    def label(self, name: str) -> Asm:
        self._labels[name] = len(self._insns)
        return self

    def load32(self, dst: int, src: int, offset: int) -> Asm:
        return self._emit(LDX_W, dst, src, offset)

    def mov64(self, dst: int, src: int) -> Asm:
        return self._emit(MOV64_X, dst, src)

    def mov32(self, dst: int, src: int) -> Asm:
        return self._emit(MOV32_X, dst, src)

    def and32(self, dst: int, imm: int) -> Asm:
        return self._emit(AND32_K, dst, imm=imm)

    def jeq(self, dst: int, imm: int, target: str) -> Asm:
        return self._emit(JEQ32_K, dst, off=target, imm=imm)

    def jne(self, dst: int, imm: int, target: str) -> Asm:
        return self._emit(JNE32_K, dst, off=target, imm=imm)

    def ret(self, value: int) -> Asm:
        return self._emit(MOV32_K, 0, imm=value)._emit(EXIT)

    def code(self) -> bytes:
        out = bytearray()
        for index, (code, dst, src, off, imm) in enumerate(self._insns):
            if isinstance(off, str):
                off = self._labels[off] - index - 1
            out += struct.pack("<BBhi", code, (src << 4) | dst, off, imm)
        return bytes(out)
