"""Screens of the layerlab app: the main screen's modals (help, confirm, prompt, inspect)."""
