"""ecsfleet: run Amazon ECS on EC2 cheaply and safely."""

__version__ = "0.1.0"
