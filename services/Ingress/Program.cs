using WebhookConnect.Ingress;
using WebhookConnect.ServiceDefaults;

return ServiceEntryPoint.Run(() =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddServiceDefaults(new ServiceDefaultsSettings("ingress", DefaultManagementPort: 9090));
    builder.AddIngress();

    var app = builder.Build();
    app.MapServiceDefaults();
    app.MapIngress();
    app.Run();
});
