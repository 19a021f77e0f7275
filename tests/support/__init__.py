"""What only this repository's tests need: servers of their own, a tamperable audit store."""
