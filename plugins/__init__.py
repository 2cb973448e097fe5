"""Plugins that ship with crmetrics; each is an ordinary plugin, loaded by entry point."""
