"""Meituan O2O (团购 vouchers redeemed in stores): day-sequence order pulls (channel-protocols.md §8)."""
