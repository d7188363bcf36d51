"""Route modules, one per resource; ROUTERS is the order they are mounted in."""

from fastapi import APIRouter

from ingot.api.routes import (
    agent,
    allocations,
    drivers,
    inspection_rules,
    node_actions,
    nodes,
    ports,
    root,
    simple,
)

ROUTERS: list[APIRouter] = [
    root.router,
    agent.router,
    node_actions.router,
    nodes.router,
    ports.router,
    ports.PORTS.routes(),
    ports.PORTGROUPS.routes(),
    simple.router,
    *[c.routes() for c in simple.COLLECTIONS],
    drivers.router,
    allocations.router,
    inspection_rules.router,
]
