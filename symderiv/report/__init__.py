"""Reports: render context, escaping, templates, text output and notebook display."""
