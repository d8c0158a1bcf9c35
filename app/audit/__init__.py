"""The audit log: one append-only row per administrative action, written in the action's own transaction."""
