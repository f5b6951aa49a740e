module resource_probes

go 1.19
