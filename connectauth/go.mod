module github.com/clerkauth/clerkauth/connectauth

go 1.26.0

replace github.com/clerkauth/clerkauth => ../

require (
	connectrpc.com/connect v1.21.1
	github.com/clerkauth/clerkauth v0.0.0
	github.com/stretchr/testify v1.12.1
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/clerk/clerk-sdk-go/v2 v2.7.0 // indirect
	github.com/go-jose/go-jose/v3 v3.0.5 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/svix/svix-webhooks v1.99.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.43.0 // indirect
)
