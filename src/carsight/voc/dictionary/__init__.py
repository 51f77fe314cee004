"""Word lists that ship with carsight: the domain dictionary and the Korean stop words."""
