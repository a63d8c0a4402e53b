"""The pure core: message rules, routes, variable rendering, rate arithmetic. No I/O."""
