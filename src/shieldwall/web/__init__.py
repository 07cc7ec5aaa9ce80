"""The web application: assembles each capability's routers, templates and static files."""
