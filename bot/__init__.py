"""一键直达 flat-command bot."""
