"""Customer portal pages of tracking, one module per page family. Every object comes through
a selector scoped to request.user."""
