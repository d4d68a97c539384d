from django.core.exceptions import ValidationError


class LifecycleError(ValidationError):
    """A refused fleet operation. `messages` names every offending line and value; nothing
    was written. Commands show it as a CommandError, admin pages as error messages."""

    def __init__(self, messages: str | list[str]):
        super().__init__([messages] if isinstance(messages, str) else list(messages))
