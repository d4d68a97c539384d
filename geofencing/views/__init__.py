"""Customer portal pages that show statuses and places, one module per page family. Every
object comes through a selector scoped to request.user."""
