"""The residents' own channel: sign-in by SMS code, and their requests as they may see them."""
