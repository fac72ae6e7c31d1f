"""User-facing errors: a mistake a user can fix gets one clear line, not a traceback."""


class UserError(Exception):
    """A problem the user can fix (bad config key, mesh that does not divide the devices, missing checkpoint).

    Entry points print `error: <message>` and exit with status 2 instead of showing a traceback.
    """
