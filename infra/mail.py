"""Sending mail through the configured SMTP server (``BUILDSPACE_SMTP_*``), with the
standard library's client, off the event loop. Without a server, ``send`` answers
False and the caller says where else the message went."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from infra.settings import Settings

TIMEOUT = 20


def _send(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_host is not None
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password \
                else ""
            smtp.login(settings.smtp_username, password)
        smtp.send_message(message)


async def send(settings: Settings, to: str, subject: str, body: str) -> bool:
    """Send a plain-text mail; False when no SMTP server is configured. ``OSError`` and
    ``smtplib.SMTPException`` when the server refuses or cannot be reached."""
    if settings.smtp_host is None:
        return False
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message.set_content(body)
    await asyncio.to_thread(_send, settings, message)
    return True
