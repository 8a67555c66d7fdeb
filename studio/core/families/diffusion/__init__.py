"""The diffusion family: its models, its Family (family.py), its training tasks and recipes, its evaluations."""
