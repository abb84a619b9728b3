"""Developer tools, kept out of the installed runtime: run them from a source checkout.

Not a distributed package (``[tool.setuptools.packages.find]`` leaves it out).
"""
