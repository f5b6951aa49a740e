module generated_findings

go 1.15
