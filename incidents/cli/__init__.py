"""The command line: `flask --app incidents COMMAND`, one module per group of commands.

Commands parse their options, call a service (incidents.services) or a read model, and print.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from incidents.cli import (
        accounts,
        audit,
        backups,
        demo,
        erasure,
        exports,
        imports,
        map_cells,
        public_locations,
        stored_records,
        tokens,
        worker,
    )

    for command in (
        accounts.create_user_command,
        demo.load_demo_command,
        tokens.create_token_command,
        tokens.revoke_token_command,
        exports.export_command,
        imports.import_command,
        stored_records.records_command,
        map_cells.map_cells_command,
        public_locations.public_locations_command,
        audit.audit_group,
        backups.backup_command,
        backups.restore_command,
        worker.worker_command,
        erasure.erase_group,
    ):
        app.cli.add_command(command)
