"""Helpers the tests share (one home each); nothing here ships."""
