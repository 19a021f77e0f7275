"""Food assistance: a monthly grocery credit per low-welfare household, spent at agent shops."""

from services.food.module import module

__all__ = ["module"]
