"""Code that runs inside the testbed's services venv, beside keystone, nova, neutron and co.

It is a separate distribution because neutron finds mechanism drivers only through
entry points, and because the WSGI runner must be importable by the services' Python.
"""
