"""ServiceAccounts: virtual -> host (sync.toHost.serviceAccounts), one host copy per virtual
ServiceAccount, so a tenant pod runs on the host as the copy of its own ServiceAccount and
cloud workload identity (IAM annotations) applies to it. Tokens still come from inside."""

from subkube.kube.resource import SERVICEACCOUNTS, Resource
from subkube.syncer.resources.serviceaccounts import translate
from subkube.syncer.tohost import ToHost


class ServiceAccounts(ToHost):
    name = "serviceaccounts"
    resource: Resource = SERVICEACCOUNTS
    translate = translate
