// SPDX-License-Identifier: MIT
/*
 * A device's wire and the NIC: made when a device bound to an interface
 * gets its addresses, rebound when they change, freed with the device.
 * Received packets go to the engine's wire transport once it is attached
 * (until then they are counted as dropped_no_transport).
 */
#include "svd.h"
#include "wire.h"

int wire_port_changed(struct svd_device *dev)
{
	int ret;

	if (!dev->port.netdev[0])
		return 0; /* the default device keeps the same-host path */
	if (!dev->wire) {
		dev->wire = wire_create(dev);
		if (!dev->wire)
			return -ENOMEM;
	}
	ret = wire_sync_addrs(dev->wire);
	return ret < 0 ? ret : 0;
}

void wire_port_gone(struct svd_device *dev)
{
	wire_destroy(dev->wire);
	dev->wire = NULL;
}
