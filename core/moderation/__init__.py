"""Per-chat moderation: a pure policy decision (`policy`) and the storage behind it (`store`)."""
