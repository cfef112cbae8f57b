// wx.request as a promise; a non-2xx answer rejects with the server's message.
function call(method, url, data) {
  return new Promise((resolve, reject) => {
    wx.request({
      url,
      method,
      data,
      timeout: 10000,
      header: { 'content-type': 'application/json' },
      success: (res) => {
        if (res.statusCode >= 200 && res.statusCode < 300) resolve(res.data);
        else reject(new Error((res.data && res.data.message) || `HTTP ${res.statusCode}`));
      },
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

module.exports = {
  get: (url) => call('GET', url),
  post: (url, data) => call('POST', url, data),
};
