"""Chat adapters (`bots.discord`, `bots.telegram`), the chat pipeline they share, and the CLI."""
