"""Evidence packs: the exact bytes a verdict was computed from, kept as an OCI image layout.

``record.py`` keeps what a :class:`~provcheck.source.base.Source` returned (a wrapper, so that
nothing is fetched twice); ``pack.py`` writes it, with the policy, the trust inputs and the
report, as a layout that :class:`~provcheck.source.layout.LayoutSource` replays.
"""
