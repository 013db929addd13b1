# pbr reads everything from setup.cfg; this file only hands it to setuptools.
import setuptools

setuptools.setup(setup_requires=["pbr>=6.0.0"], pbr=True)
