"""Dead letters: redrive a refused message to its topic once its cause is fixed."""
