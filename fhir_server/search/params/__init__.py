"""One module per search parameter type; each builds the SQL condition for one value.

Every module exposes ``TABLE`` (the index table it searches), ``MODIFIERS`` (the
modifiers it implements) and ``condition(table, modifier, value, context)``;
:mod:`.composite`, whose condition depends on the parameter's components, has
``condition_for(param, registry, resource_type)`` return that function instead.
"""
