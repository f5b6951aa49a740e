module runtime_issues

go 1.15
