"""The rights engine: subjects' data found from the declarations, requests executed generically."""
