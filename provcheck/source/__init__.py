"""Where bytes come from: a registry or an OCI image layout, behind one interface."""
