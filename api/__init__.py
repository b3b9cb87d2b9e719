"""The HTTP service of `strata serve`: the JSON API and the server-rendered planner pages."""
