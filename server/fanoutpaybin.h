/* gst-fanout
 * Copyright (C) 2026 the gst-fanout authors
 *
 * This library is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Library General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 */

/* fanoutpaybin: a mount media's pay0 (a payloader, then payloadbatch: one
 * buffer list per frame), registered in the server's process only. */

#pragma once

namespace gstfanout
{

/* Registers the fanoutpaybin element (fanoutpaybin.cpp) in this process. */
bool pay_bin_register () noexcept;

} // namespace gstfanout
