"""The web console: server-rendered pages under /console (Jinja2 + htmx), calling the same services as the API.

`install_console(app)` (called by `create_app`) mounts the pages, the static
files (htmx vendored from npm, the CSS, the console's own JS) and renders every
error under /console as an HTML page instead of problem+json.
"""
