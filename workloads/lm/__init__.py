"""Byte-level decoder-only transformer language model on Jane Austen's novels."""
