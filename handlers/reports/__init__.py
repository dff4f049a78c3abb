"""日报表: understand inspection reports posted in the groups and keep them as records."""
