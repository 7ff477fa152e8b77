using WebhookConnect.Admin;
using WebhookConnect.ServiceDefaults;

return ServiceEntryPoint.Run(() =>
{
    var builder = WebApplication.CreateBuilder(args);
    builder.AddServiceDefaults(new ServiceDefaultsSettings("admin", DefaultManagementPort: 9092));
    builder.AddAdmin();

    var app = builder.Build();
    app.MapServiceDefaults();
    app.MapAdmin();
    app.Run();
});
