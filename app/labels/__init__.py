"""Labels: booking shipments at the carrier, their label documents, and voiding them (`/v1/labels`)."""
