"""Pipelines are models the user brings (studio.core.families.pipeline); the studio does not train them."""
RECIPES = ()
