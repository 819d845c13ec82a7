package emulator_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"

	"github.com/stewardhq/steward/emulator"
)

// Start an emulator and list Contoso's subscriptions with the Azure SDK, as
// Contoso's seeded Reader application.
func Example() {
	e, err := emulator.New(emulator.Config{Estate: emulator.EstateSmall})
	if err != nil {
		log.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer e.Stop()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.CACertPEM())
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer transport.CloseIdleConnections()
	opts := azcore.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: e.URL() + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: e.URL(), Audience: e.URL()},
			},
		},
		Transport: &http.Client{Transport: transport},
	}

	cf := e.Connection()
	contoso, _ := cf.Tenant(emulator.ContosoTenantName)
	reader := contoso.ServicePrincipals[0] // contoso-reader
	cred, err := azidentity.NewClientSecretCredential(contoso.ID, reader.ClientID, reader.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		log.Fatal(err)
	}
	client, err := armsubscriptions.NewClient(cred, &arm.ClientOptions{ClientOptions: opts})
	if err != nil {
		log.Fatal(err)
	}
	page, err := client.NewListPager(nil).NextPage(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reader.Name, "sees", len(page.Value), "subscriptions")
	// Output: contoso-reader sees 3 subscriptions
}
