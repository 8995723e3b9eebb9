#!/usr/bin/python
# Keystone registered limits (unified limits) for one service in one region.
# openstack.cloud 2.5.0 has no module for them; this one uses the same
# connection handling (OpenStackModule: auth, region_name, ...) and
# openstacksdk's identity registered_limits API.
from __future__ import annotations

DOCUMENTATION = r"""
---
module: keystone_registered_limits
short_description: Ensure Keystone registered limits (unified limits) for a service
description:
  - Ensures that the registered limits (the default limit of each resource, for every
    project) of one service in one region have the given values. A resource that is
    missing is created; one whose default limit differs is updated. Registered limits of
    other resources are left alone.
  - Glance (use_keystone_limits) reads them through oslo.limit; a resource it enforces
    but finds no limit for counts as a limit of zero.
  - Supports check mode.
options:
  service:
    description: Name or id of the service the limits belong to, e.g. C(glance).
    type: str
    required: true
  region:
    description:
      - Id of the region of the limits. oslo.limit looks them up with the region of
        the service endpoint it is configured with, so this must be that region.
    type: str
    required: true
  limits:
    description:
      - "Resource name to default limit, e.g. C({image_size_total: 1000})."
      - With O(state=absent) only the names count; their registered limits are deleted.
    type: dict
    required: true
  state:
    description: C(present) creates or updates the limits, C(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: Description given to limits this module creates or updates.
    type: str
extends_documentation_fragment:
  - openstack.cloud.openstack
"""

EXAMPLES = r"""
- name: Register Glance's limits
  keystone_registered_limits:
    cloud: admin
    service: glance
    region: RegionOne
    limits:
      image_size_total: 1000
      image_stage_total: 1000
      image_count_total: 100
      image_count_uploading: 10

- name: Remove them again (only the names count)
  keystone_registered_limits:
    cloud: admin
    service: glance
    region: RegionOne
    limits: {image_size_total: 0, image_stage_total: 0, image_count_total: 0, image_count_uploading: 0}
    state: absent
"""

RETURN = r"""
registered_limits:
  description: The registered limits of the given resources after the run.
  returned: always
  type: list
  elements: dict
  sample: [{resource_name: image_size_total, default_limit: 1000, id: 3f2a, region_id: RegionOne}]
changes:
  description: 'What was created or updated, as "resource: old -> new".'
  returned: always
  type: list
  elements: str
"""

from ansible_collections.openstack.cloud.plugins.module_utils.openstack import (  # noqa: E402
    OpenStackModule,
)


class RegisteredLimitsModule(OpenStackModule):
    argument_spec = dict(
        service=dict(type="str", required=True),
        region=dict(type="str", required=True),
        limits=dict(type="dict", required=True),
        description=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module_kwargs = dict(supports_check_mode=True)

    def _wanted(self):
        wanted = {}
        for name, value in self.params["limits"].items():
            try:
                number = int(value)
            except (TypeError, ValueError):
                number = None
            if number is None or number < 0 or str(number) != str(value).strip():
                self.fail_json(
                    msg=f"limits[{name!r}] is {value!r}: give a whole number of 0 or more"
                )
            wanted[name] = number
        return wanted

    def run(self):
        identity = self.conn.identity
        service = identity.find_service(self.params["service"], ignore_missing=True)
        if service is None:
            self.fail_json(msg=f"Keystone has no service {self.params['service']!r}")
        region = self.params["region"]
        description = self.params["description"]
        found = {
            rl.resource_name: rl
            for rl in identity.registered_limits(service_id=service.id, region_id=region)
            if rl.region_id == region
        }
        if self.params["state"] == "absent":
            self._delete(found)
        wanted = self._wanted()
        changes = []
        result = {}
        for name, limit in sorted(wanted.items()):
            current = found.get(name)
            if current is None:
                changes.append(f"{name}: none -> {limit}")
                if not self.ansible.check_mode:
                    attrs = dict(
                        service_id=service.id,
                        region_id=region,
                        resource_name=name,
                        default_limit=limit,
                    )
                    if description:
                        attrs["description"] = description
                    current = identity.create_registered_limit(**attrs)
            elif int(current.default_limit) != limit:
                changes.append(f"{name}: {current.default_limit} -> {limit}")
                if not self.ansible.check_mode:
                    attrs = dict(default_limit=limit)
                    if description:
                        attrs["description"] = description
                    current = identity.update_registered_limit(current, **attrs)
            result[name] = dict(
                resource_name=name,
                default_limit=limit,
                id=getattr(current, "id", None),
                region_id=region,
                service_id=service.id,
            )
        self.exit_json(
            changed=bool(changes),
            changes=changes,
            registered_limits=[result[n] for n in sorted(result)],
        )


    def _delete(self, found):
        gone = sorted(name for name in self.params["limits"] if name in found)
        if not self.ansible.check_mode:
            for name in gone:
                self.conn.identity.delete_registered_limit(found[name])
        self.exit_json(
            changed=bool(gone),
            changes=[f"{name}: {found[name].default_limit} -> none" for name in gone],
            registered_limits=[],
        )


def main():
    module = RegisteredLimitsModule()
    module()


if __name__ == "__main__":
    main()
