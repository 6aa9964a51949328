"""``python -m tradesim.relay serve ...``: the ``tradesim notify`` group without the ``tradesim`` entry point."""

from tradesim.relay.command import notify

if __name__ == "__main__":
    notify(prog_name="tradesim notify")
