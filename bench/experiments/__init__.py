"""What-if launchers: run the bot with a proposed fix patched in at start, without editing bot/."""
