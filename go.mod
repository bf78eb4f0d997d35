module github.com/mlflowauth/mlflowauth

go 1.26

require github.com/stretchr/testify v1.12.1

require (
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
